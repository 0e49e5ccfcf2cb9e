"""The course's Keras MNIST model, timed per epoch (run by bench/training_epoch.py with a
Python that has TensorFlow). Reads the split from an .npz, prints one JSON line."""

import json
import sys
import time

import numpy as np
import tensorflow as tf

data = np.load(sys.argv[1])
epochs = int(sys.argv[2])
x_train, y_train = data["x_train"].astype(np.float32) / 255.0, data["y_train"]
x_val, y_val = data["x_val"].astype(np.float32) / 255.0, data["y_val"]
tf.random.set_seed(0)
model = tf.keras.Sequential(
    [
        tf.keras.Input(shape=(784,)),
        tf.keras.layers.Dense(25, activation="relu"),
        tf.keras.layers.Dense(15, activation="relu"),
        tf.keras.layers.Dense(10, activation="linear"),
    ]
)
model.compile(
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3),
    metrics=["accuracy"],
)


class Timer(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


timer = Timer()
timer.seconds = []
model.fit(
    x_train,
    y_train,
    batch_size=32,
    epochs=epochs,
    verbose=0,
    callbacks=[timer],
    validation_data=(x_val, y_val),
)
accuracy = float(model.evaluate(x_val, y_val, verbose=0)[1])
print(
    json.dumps(
        {
            "seconds_per_epoch": float(np.median(timer.seconds[1:])),
            "accuracy": accuracy,
            "tensorflow": tf.__version__,
        }
    )
)
