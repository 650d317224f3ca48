// Anchor for the precompiled LibTorch header shared by the model tests.
