"""A small trained ConvNet on the embedded digits, shared by the chapter-2 tests."""

from __future__ import annotations

from functools import cache


@cache
def small_trained_convnet():
    """(model, data, software accuracy): 8 x 8 digits, a 4-map ConvNet, 4 epochs."""
    from xbarsim.nn import accuracy, convnet, load_digits, seeded, train

    data = load_digits(seed=0, binarize_threshold=None)
    with seeded(0):
        model = convnet(1, 8, 10, width=4)
    train(model, data, epochs=4, lr=1e-2, batch_size=100, seed=0, threads=1)
    return model, data, accuracy(model, data.x_test, data.y_test)
