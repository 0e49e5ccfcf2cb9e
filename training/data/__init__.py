"""The data sets: real MNIST digits (embedded or IDX files), composed multi-label canvases,
and two documented, seeded tabular generators. Nothing is downloaded."""
