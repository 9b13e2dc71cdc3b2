"""Text embeddings shared by referring (category nouns) and fusion (the text gate, training prompts):
one offline sentence encoder per process (:mod:`.encoder`)."""
