"""Reading media: finding video files, probing them, decoding frames, making thumbnails."""
