"""pylearn_lab: cached, parallel expression graphs of Python calls, for notebooks."""
