"""Audio in, MFCC out: reading and checking audio, framing, DeepSpeech's TensorFlow MFCC."""
