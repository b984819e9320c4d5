"""Files the project writes and reads: atomic writes, content hashes, where things live, model files."""
