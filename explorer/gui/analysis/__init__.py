"""The Analysis tab: why residual learning works, on the run the Training tab shows."""
