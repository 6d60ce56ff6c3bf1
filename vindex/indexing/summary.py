"""What one `add` did: the counts and failures that the CLI prints and `--json` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from vindex.errors import DecodeError
from vindex.indexing.jobs import EmbedJob, Failure, UnreadableFolder
from vindex.locations import shown_path
from vindex.results import Result


@dataclass
class AddSummary(Result):
    """What one `add` did. `added` counts new files (copies included), `embedded` the videos decoded
    and embedded, `fingerprinted` the indexed videos decoded again only for their fingerprints.

    `failed_rows`: ids of rows whose file changed and then failed; their old vectors leave the index.
    """

    root: str
    db: str
    added: int = 0
    reembedded: int = 0
    renamed: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    frames: int = 0
    frames_reused: int = 0  # frames bit-identical to one embedded before (in the run or the index): no forward pass of their own
    frames_from_index: int = 0  # of those, the frames whose vector the index held from an earlier run
    fingerprinted: int = 0  # videos fingerprinted anew, as older rules made theirs or none (decoded, not embedded)
    seconds: float = 0.0
    assigned: int = 0  # new or changed videos placed among the latest clustering's clusters (by `Index.add`)
    assigned_noise: int = 0  # of those, the ones placed in the noise
    notes: list[str] = field(default_factory=list)  # what the user should know (how to upgrade the frame policy)
    unreadable_folders: list[UnreadableFolder] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)  # last in `--json`: the long list after the counts
    failed_rows: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        """As JSON shows it: paths with U+FFFD for bytes that are not UTF-8, no row ids."""
        facts = super().to_dict()
        del facts["failed_rows"]
        for item in facts["failed"] + facts["unreadable_folders"]:
            item["path"] = shown_path(item["path"])
        return facts

    def count_embedded(self, job: EmbedJob, frames: int) -> None:
        """One job's content was embedded: every file that holds it is added or re-embedded."""
        self.embedded += 1
        self.frames += frames
        self.reembedded += sum(job.changed)
        self.added += len(job.files) - sum(job.changed)

    def count_failed(self, job: EmbedJob, error: DecodeError) -> None:
        """A job that cannot be decoded fails every file that holds its content, and the rows of
        the files among them that held other content before are dropped: that content is gone."""
        self.failed.extend(Failure(file.path, str(error)) for file in job.files)
        self.failed_rows.extend(video for video, changed in zip(job.ids, job.changed) if changed)
