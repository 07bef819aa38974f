"""The comparison of a page's shown output with the tool's (test_docs_run.mismatches) catches what a lying page
shows and lets through what only the numbers, labels, paths or the store's contents change."""
from test_docs_run import mismatches

REAL = ["┃ file              ┃ thr ┃ median ms ┃   p90 ms (95% CI) ┃ proc ┃     CV ┃ runtime              ┃ flags    ┃",
        "│ model_fp32.tflite │   1 │      0.37 │ 2.30 [0.69, 7.63] │    3 │ 870.1% │ ai-edge-litert 2.3.0 │ unstable │",
        "pick: a0.5-128-int8 (MobileNet v1) on local (1 thr): p90 0.58 ms [95% CI 0.55, 0.60] <= 2.2 ms, top-1 54.9% "
        "published",
        "why: most accurate of 6 measured variant(s) with p90 <= 2.2 ms (upper 95% bound where measured), ranked by "
        "published top-1 (the checkpoints', not these files')",
        "deploy: python raspberrypi/classify.py --artifact /x/models/mobilenet_v1_0.5_128 --file model_int8.tflite "
        "--threads 1"]


def test_other_numbers_labels_paths_and_wrapped_lines_pass():
    shown = ["┃ file              ┃ thr ┃ median ms ┃   p90 ms (95% CI) ┃ proc ┃    CV ┃ runtime              ┃ flags ┃",
             "│ model_fp32.tflite │   1 │      0.40 │ 0.45 [0.43, 0.47] │   18 │ 10.8% │ ai-edge-litert 2.3.0 │       │",
             "pick: a0.75-160-int8 (MobileNet v1) on local (1 thr): p90 1.58 ms [95% CI 1.51, 1.66] <= 2.2 ms, top-1 "
             "63.9% published",
             "why: most accurate of 13 measured variant(s) with p90 <= 2.2 ms (upper 95% bound where measured), ranked",
             "by published top-1; undecided: a0.75-192-int8 would change the answer",
             "  undecided against a0.75-192-int8: p90 2.19 ms [95% CI 2.08, 2.29] holds the budget",
             "warning: model_int8.tflite: unstable: runner processes disagree",
             "deploy: python raspberrypi/classify.py --artifact …/mobilenet_v1_0.75_160 --file model_int8.tflite "
             "--threads 1"]
    assert mismatches(shown, REAL) == []


def test_old_columns_old_words_and_unknown_messages_fail():
    problems = mismatches(["┃ file ┃ thr ┃ median ms ┃ p90 ms ┃ std ms ┃ CV ┃ runtime ┃ flags ┃",
                           "│ model_fp32.tflite │ 1 │ 0.38 │ 0.41 │ 0.02 │ 6.2% │ ai-edge-litert 2.3.0 │ unstable │",
                           "why: most accurate of 16 measured variants with p90 <= 2.2 ms",
                           "  faster in the cloud: a0.5-128-int8"], REAL)
    assert len(problems) == 3, problems     # the row has the tool's 8 columns: its shape is right
    assert "table columns" in problems[0] and "variants" in problems[1] and "faster in the cloud" in problems[2]
