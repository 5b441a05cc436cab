"""The text of a video: subtitles and speech transcripts as timed segments, and their search."""
