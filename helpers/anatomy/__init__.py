"""Image anatomy: read a ``docker save`` stream once and explain where its bytes go.

``read_image`` turns the archive (any layout ``docker load`` accepts) into ordered layers;
``analyse`` replays them on the :class:`FinalFilesystem` (the model the scanner's inventory
uses too) to find wasted bytes, duplicates and secrets. Both are pure: they work
on byte streams and files, never on the engine, so a saved archive gives the same answer.
"""

from helpers.anatomy.analysis import analyse, analyse_image, efficiency, short_step
from helpers.anatomy.archive import ArchiveSource, read_image
from helpers.anatomy.filesystem import FinalFilesystem
from helpers.anatomy.model import (
    DuplicateGroup,
    FileRecord,
    ImageAnatomy,
    ImageArchive,
    Layer,
    LayerContent,
    LayerSummary,
    SecretFinding,
    VisibleFile,
    WastedFile,
)
from helpers.anatomy.secrets import mask, redact

__all__ = [
    "ArchiveSource", "DuplicateGroup", "FileRecord", "FinalFilesystem", "ImageAnatomy",
    "ImageArchive", "Layer",
    "LayerContent", "LayerSummary", "SecretFinding", "VisibleFile", "WastedFile", "analyse",
    "analyse_image", "efficiency", "mask", "read_image", "redact", "short_step",
]
