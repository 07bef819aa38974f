"""MobileNet v1: architecture table, Keras builder, cost model, weight loading."""
