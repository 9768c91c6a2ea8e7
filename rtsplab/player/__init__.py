"""The Tk player's parts that are not the window: the frame cache, the decoder, the panel."""
