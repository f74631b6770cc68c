"""Patient/$wishes: the end-of-life emergency summary document."""
