"""Data: the synthetic semantic-gap world, webdataset shards, vocabulary and concept extraction."""
