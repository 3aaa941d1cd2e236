"""Still-image I/O moved to `vidinterp.io.images` (image sequences use it too); this name stays for old imports."""

from vidinterp.io.images import encode_png, read_image, write_png

__all__ = ["encode_png", "read_image", "write_png"]
