"""rqt plugin for operators: send a referring text, see the active target, history, clear."""
