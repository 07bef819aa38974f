"""mobiledeploy's Raspberry Pi classifier: frame sources, the classify loop, overlay, web view."""
