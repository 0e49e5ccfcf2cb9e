"""The report published beside each version: figures a person looks at, and a model card."""
