"""Says which release of the image is running."""

from pathlib import Path

release = Path(__file__).with_name("RELEASE").read_text(encoding="utf-8").strip()
print(f"hello from release {release}")
