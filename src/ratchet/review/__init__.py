"""The pull-request report and the merge gate."""
