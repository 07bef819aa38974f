"""The file-kind table drives the schema's enums, the writers, the CLI's help and default-file choice."""

from conftest import mobiledeploy

from mobiledeploy.artifact.manifest import DEFAULT_PREFERENCE, schema
from mobiledeploy.export.formats import FILE_KINDS, FORMATS, PRECISIONS, select
from mobiledeploy.export.pipeline import WRITERS


def test_schema_enums_are_the_table():
    entry = schema()["properties"]["files"]["items"]["properties"]
    assert entry["format"]["enum"] == list(FORMATS)
    assert entry["precision"]["enum"] == list(PRECISIONS)


def test_every_format_has_a_writer_and_every_kind_a_unique_file_name():
    assert set(WRITERS) == set(FORMATS)
    names = [k.filename for k in FILE_KINDS]
    assert len(set(names)) == len(names)


def test_default_preference_names_kinds_of_the_table():
    kinds = {(k.format, k.precision) for k in FILE_KINDS}
    assert set(DEFAULT_PREFERENCE) <= kinds


def test_export_help_lists_every_kind():
    text = mobiledeploy("export", "--help", check=True).stdout
    for kind in FILE_KINDS:
        assert kind.filename in text


def test_select_always_includes_the_float_reference():
    chosen = select("tflite", "int8", False)
    assert [(k.format, k.precision) for k in chosen] == [("tflite", "fp32"), ("tflite", "int8")]
