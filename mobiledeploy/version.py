"""The version of mobiledeploy (recorded in every manifest and result)."""

__version__ = "0.3.0"
