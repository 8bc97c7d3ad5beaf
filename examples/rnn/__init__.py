"""The rnn example: a TF1 LSTM sequence classifier in four stages.

Its data are the digits read as sequences, a third of them shortened
(`sequences.shorten`, mapped over the examples by the input pipeline).
"""

from examples.rnn import sequences

DATA_TRANSFORM = sequences.shorten
