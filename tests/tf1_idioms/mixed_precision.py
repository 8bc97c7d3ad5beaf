"""Class 7: mixed precision (float16 math in TF1 code, dtype policies)."""

import tensorflow as tf

from tf1_idioms.registry import idiom

v1 = tf.compat.v1


# TF 1.15+ model code (tensorflow/models official, mixed precision): a TF1
# layer with the "mixed_float16" policy: float32 variables, float16 math.
@idiom(cls=7, tolerance=2e-3)
def dense_mixed_float16_policy(x, training):
  del training
  h = v1.layers.Dense(4, activation=tf.nn.relu, dtype="mixed_float16",
                      name="fc1")(x)
  assert h.dtype == tf.float16, h.dtype
  return tf.cast(v1.layers.Dense(3, dtype="mixed_float16", name="fc2")(h),
                 tf.float32)


# Half-precision models (TF1 code): get_variable(dtype=tf.float16) and fp16
# math throughout, cast back at the end.
@idiom(cls=7, tolerance=2e-3)
def float16_variables(x, training):
  del training
  w = v1.get_variable("w", [6, 3], dtype=tf.float16)
  b = v1.get_variable("b", [3], dtype=tf.float16,
                      initializer=v1.zeros_initializer())
  return tf.cast(tf.matmul(tf.cast(x, tf.float16), w) + b, tf.float32)



# fp16 inference (TF1 deployment code): inputs cast to float16 make a TF1
# layer's variables float16 (a TF1 layer takes its dtype from its first
# input).
@idiom(cls=7, inputs="img", tolerance=2e-3)
def layers_dtype_from_float16_input(x, training):
  del training
  h = v1.layers.conv2d(tf.cast(x, tf.float16), 4, 3, name="conv")
  assert h.dtype == tf.float16, h.dtype
  return tf.cast(v1.layers.dense(v1.layers.flatten(h), 2, name="fc"),
                 tf.float32)


# Mixed-precision ResNets (NVIDIA DeepLearningExamples, Apache-2.0): fused
# batch normalization on float16 activations.
@idiom(cls=7, inputs="img", tolerance=2e-3)
def fused_batch_norm_float16(x, training):
  h = v1.layers.batch_normalization(tf.cast(x, tf.float16), fused=True,
                                    momentum=0.9, training=training)
  return tf.cast(h, tf.float32)
