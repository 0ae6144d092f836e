"""The DVC stages (validate, featurize, train, evaluate) and the model artifact."""
