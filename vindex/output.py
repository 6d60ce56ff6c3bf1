"""How the CLI shows results: JSON for scripts (`--json`, the results' own `to_dict()`), human
tables otherwise, progress on stderr so stdout stays clean."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable

import click

from vindex.clock import moment
from vindex.display import has_control, visible_name
from vindex.errors import VindexError
from vindex.locations import shown_path
from vindex.results import ProgressHook, StatusHook, count, plain

MISSING_SHOWN = 20  # files not on disk that `vindex check` lists; --json has them all
VERBS = {"move": ("move", "moved"), "copy": ("copy", "copied"), "link": ("link", "linked")}


def echo(line: str = "", err: bool = False) -> None:
    """Print one line for a person. Names come from the disk, so whatever a terminal would act on
    (escapes, bidi overrides, a newline inside a name) is written out visibly, on a terminal or piped."""
    click.echo(visible_name(str(line)), err=err)


def json_text(data: Any) -> str:
    """`data` as JSON in which no character a terminal acts on appears raw: json.dumps escapes C0
    controls itself; C1 controls, DEL and format characters (U+202E...) get their `\\uXXXX` too."""
    text = json.dumps(plain(data), indent=2, default=str, ensure_ascii=False)
    if all(line.isprintable() for line in text.split("\n")):
        return text
    return "".join(char if char.isprintable() or char == "\n" else unicode_escape(char) for char in text)


def unicode_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def print_json(data: Any) -> None:
    click.echo(json_text(data))


def emit(result: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """Print `result` as JSON, or hand it to `human` for the table a person reads."""
    if as_json:
        print_json(result.to_dict() if hasattr(result, "to_dict") else result)
    else:
        human(result)


def warn(message: str) -> None:
    echo(f"warning: {message}", err=True)


class _WarningLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def show_library_warnings() -> None:
    """What the library logs as a warning (a set-aside journal, an int8 model refused) is shown the
    way the CLI shows its own: one `warning:` line on stderr, instead of Python's log format."""
    logger = logging.getLogger("vindex")
    if not any(isinstance(handler, _WarningLines) for handler in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))
        logger.propagate = False


def progress_bar(quiet: bool) -> tuple[Any, ProgressHook]:
    """A rich progress bar on stderr, or nothing when quiet or not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=quiet or not console.is_terminal, transient=False,
    )
    tasks: dict[str, int] = {}

    def hook(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return progress, hook


def status_printer(quiet: bool) -> StatusHook | None:
    """Progress lines on stderr, so stdout stays clean for the result (or --json)."""
    if quiet:
        return None
    return lambda message: echo(f"  {message}", err=True)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


# -- add, info, optimize ------------------------------------------------------------------------
def print_add_summary(summary) -> None:
    for folder in summary.unreadable_folders:
        warn(f"could not read folder {shown_path(folder.path)}: {folder.reason} "
             f"(its {count(folder.videos_kept, 'video')} {'is' if folder.videos_kept == 1 else 'are'} kept)")
    for failure in summary.failed:
        warn(f"skipped {shown_path(failure.path)}: {failure.reason}")
    reused, held = summary.frames_reused, summary.frames_from_index  # stored vectors, no forward pass
    reused_text = (f", {reused} reused" + (" from the index" if held == reused else
                                           f" ({held} from the index)" if held else "") if reused else "")
    echo(
        f"{summary.added} added, {summary.reembedded} re-embedded, {summary.renamed} renamed, "
        f"{summary.unchanged} unchanged, {summary.removed} removed, {len(summary.failed)} failed "
        f"in {summary.seconds:.1f} s ({count(summary.embedded, 'video')}, {count(summary.frames, 'frame')} embedded"
        + reused_text + (f"; {summary.fingerprinted} fingerprinted" if summary.fingerprinted else "") + ")"
    )
    for note in summary.notes:
        echo(f"note: {note}", err=True)
    if summary.assigned:
        echo(f"placed among the latest clusters: {count(summary.assigned, 'new video')}, "
             f"{summary.assigned - summary.assigned_noise} in a cluster and {summary.assigned_noise} in the noise "
             "(`vindex cluster` re-fits)")
    echo(f"index: {summary.db}")


def print_info(facts) -> None:
    size = f"{facts.size_bytes / 2**20:.1f} MiB" if facts.size_bytes is not None else "n/a"
    rows = [
        ("index", facts.db), ("root", facts.root), ("videos", facts.videos), ("frames", facts.frames),
        ("model", f"{facts.model} ({facts.weights})" if facts.model else None), ("vector dim", facts.dim),
        ("vectors by", ", ".join(facts.vectors_made_by) if facts.vectors_made_by else None),
        ("int8 fidelity", fidelity_line(facts.int8_fidelity)),
        ("frames/video", facts.frame_policy or facts.frames_per_video), ("sampling", facts.sampling), ("schema", schema_line(facts.schema_version)),
        ("size on disk", size),
    ]
    for label, value in rows:
        echo(f"{label:>13}: {value if value is not None else '-'}")
    if facts.clusters:
        echo(f"{'clusters':>13}: {cluster_line(facts.clusters)}")
    if facts.curation:
        echo(f"{'curation':>13}: {count(facts.curation['decisions'], 'decision')} in force "
                   f"({facts.curation['rows']} rows in the audit trail)")
    if facts.channels:
        echo(f"{'channels':>13}: {len(facts.channels)}")
        width = max(len(name or "(root)") for name in facts.channels)
        for name, videos in facts.channels.items():
            echo(f"{'':>15}{(name or '(root)'):<{width}}  {videos}")


def cluster_line(clusters: dict) -> str:
    """The latest fit, the videos that joined since, and a re-fit suggestion past the share."""
    line = (f"{count(clusters['clusters'], 'cluster')} fitted on {count(clusters['fitted'], 'video')}; "
            f"{clusters['joined_since_fit']} joined since ({100 * clusters['joined_share']:.0f} %, "
            f"{clusters['in_cluster']} assigned to clusters"
            + (f", {clusters['far']} noise as too far from their neighbours' cluster" if clusters["far"] else "")
            + (f", {clusters['noise']} noise as their neighbours are" if clusters["noise"] else "") + ")")
    if clusters["refit_suggested"]:
        line += ": run `vindex cluster` to re-fit"
    return line


def fidelity_line(fidelity: dict | None) -> str | None:
    """int8 against full precision on held-back frames, as `add --precision int8` measured it."""
    if not fidelity:
        return None
    verdict = "used" if fidelity.get("accepted") else f"refused (below {fidelity.get('threshold')}), full precision used"
    return (f"mean cosine {fidelity.get('mean_cosine')}, min {fidelity.get('min_cosine')} on "
            f"{fidelity.get('held_back_frames')} held-back frames: {verdict}")


def schema_line(version: int | None) -> str | None:
    from vindex.schema import SCHEMA_VERSION

    if version is None:
        return None
    return f"version {version}" + (" (current)" if version == SCHEMA_VERSION else f" (this vindex writes {SCHEMA_VERSION})")


def print_optimize(summary) -> None:
    for built in summary.built:
        echo(f"built {built['type']} on {built['table']}: {built['rows']} rows, "
                   f"{built['partitions']} partitions in {built['seconds']:.1f} s")
    for table in ("videos", "frames"):
        facts = summary.vector_indexes.get(table)
        state = (f"{facts['type']} ({facts['indexed_rows']} indexed, {facts['unindexed_rows']} not yet)" if facts
                 else "brute force (small enough)")
        echo(f"{table:>7}: {state}")
    echo(f"optimized {summary.db} in {summary.seconds:.1f} s")


# -- search -------------------------------------------------------------------------------------
def print_paths(files: list[str], null: bool) -> None:
    """`--paths`: the files as they are on disk, for another command. One per line can only be
    read back when no name holds a newline (or anything else a terminal acts on): then nothing is
    printed and the error points to `-0`, NUL-terminated like `find -print0`, which every name
    survives. Escaping instead would print a path that is not the file's, and a command given it
    could act on another file of that name."""
    if null:
        stream = click.get_binary_stream("stdout")
        stream.write(b"".join(os.fsencode(file) + b"\0" for file in files))
        stream.flush()
        return
    unsafe = next((file for file in files if has_control(file)), None)
    if unsafe is not None:
        raise VindexError(f"{visible_name(unsafe)} holds a newline or control character, so one path per line "
                          "would be ambiguous: use --paths -0 (NUL-separated, for `xargs -0`)")
    for file in files:
        click.echo(file)


def print_hits(result, as_json: bool, bare_paths: bool, null: bool = False) -> None:
    for message in result.warnings:
        warn(message)
    if as_json:
        print_json(result.to_dict())
    elif bare_paths or null:
        print_paths([hit.file for hit in result], null)
    elif not result.hits:
        echo("no matching videos", err=True)
    else:
        # Tables show names with their hidden characters escaped (a bidi override cannot disguise
        # one); --paths and --json give them as they are, for scripts.
        width = max(len("channel"), *(len(visible_name(hit.channel or "(root)")) for hit in result))
        echo(f"{'rank':>4}  {'score':>6}  {'moment':>7}  {'segment':>15}  {'channel':<{width}}  path")
        for hit in result:
            echo(
                f"{hit.rank:>4}  {hit.score:>6.3f}  {moment(hit.timestamp):>7}  {format_segment(hit):>15}  "
                f"{visible_name(hit.channel or '(root)'):<{width}}  {visible_name(hit.path)}"
            )
            for segment in hit.moments or []:
                echo(f"{'':>4}  {segment.score:>6.3f}  {moment(segment.timestamp):>7}  {format_segment(segment):>15}")


def format_segment(span) -> str:
    """"0:12-0:31" for a hit or moment with a start and an end; "-" without."""
    if span.start is None or span.end is None:
        return "-"
    return f"{moment(span.start)}-{moment(span.end)}"


def print_duplicate_groups(report, as_json: bool, bare_paths: bool, null: bool = False) -> None:
    for message in report.warnings:
        warn(message)
    if as_json:
        print_json(report.to_dict())
        return
    if bare_paths or null:
        print_paths([video.file for group in report for video in group.videos[1:]], null)
        return
    if not report.groups:
        threshold = f" at threshold {report.threshold}" if report.threshold is not None else ""
        echo(f"no duplicates ({report.mode} mode{threshold}) among {count(report.compared, 'video')}", err=True)
        return
    width = max(len("reason"), *(len(video.reason) for group in report for video in group.videos))
    second = report.mode == "near"  # CLIP's view beside the fingerprints'
    for number, group in enumerate(report, 1):
        echo(f"group {number}: {count(len(group.videos), 'video')}, keep {visible_name(group.keeper.path)}, "
                   f"{human_size(group.reclaimable_bytes)} reclaimable")
        echo(f"  {'score':>6}  " + (f"{'visual':>6}  " if second else "")
                   + f"{'reason':<{width}}  {'length':>7}  {'pixels':>9}  {'size':>9}  path")
        for video in group.videos:
            pixels = f"{video.width}x{video.height}" if video.width else "-"
            shown = (f"{video.visual:>6.3f}  " if video.visual is not None else f"{'-':>6}  ") if second else ""
            echo(
                f"  {video.score:>6.3f}  {shown}{video.reason:<{width}}  {moment(video.duration):>7}  "
                f"{pixels:>9}  {human_size(video.size or 0):>9}  {visible_name(video.path)}"
            )
    echo(f"{count(len(report.groups), 'group')}, {human_size(report.reclaimable_bytes)} reclaimable "
               f"({report.mode} mode" + (f", threshold {report.threshold})" if report.threshold is not None else ")"))


# -- clusters -----------------------------------------------------------------------------------
def print_cluster_run(run, quiet: bool) -> None:
    share = f" ({100 * run.noise / run.videos:.0f} %)" if run.videos else ""
    echo(f"{count(len(run.clusters), 'cluster')} and {count(run.noise, 'noise video')}{share} "
               f"among {count(run.videos, 'video')} in {run.seconds.get('total', 0):.1f} s")
    if run.unassigned:
        echo(f"{count(run.unassigned, 'video')} of other channels left unassigned")
    if quiet:  # otherwise they were shown as they happened
        for note in run.notes:
            echo(f"note: {note}")
    print_cluster_table([plain(cluster) for cluster in run.clusters])


def print_cluster_table(rows: list[dict]) -> None:
    if not rows:
        return
    width = max(4, max(len(str(row["name"])) for row in rows))
    echo(f"{'id':>4}  {'size':>6}  {'prob':>5}  {'name':<{width}}  channels")
    for row in rows:
        channels = ", ".join(f"{name} {videos}" for name, videos in list(row["channels"].items())[:3])
        more = len(row["channels"]) - 3
        channels += f", +{more} more" if more > 0 else ""
        echo(f"{row['id']:>4}  {row['size']:>6}  {row['mean_probability']:>5.2f}  {row['name']:<{width}}  {channels}")


def print_members(found, shown: list) -> None:
    title = "noise" if found.id == -1 else f"cluster {found.id}: {found.name}"
    echo(f"{title} · {count(found.size, 'video')} · mean probability {found.mean_probability:.2f}")
    channels = ", ".join(f"{name} {videos}" for name, videos in found.channels.items())
    echo(f"channels: {channels or '-'}")
    for video in shown:
        # Videos placed by an add since the fit say so (assigned, assigned-far, noise).
        placed_later = f"  ({video.status})" if video.status not in (None, "clustered") else ""
        echo(f"  {video.probability:.2f}  {visible_name(video.path)}{placed_later}")
    if len(shown) < found.size:
        echo(f"  … and {found.size - len(shown)} more (--limit 0 lists all)")


def print_exports(exports: list, err: bool = False) -> None:
    for done in exports:
        how = "re-encoded" if done.reencoded else "stream copy" + (" with audio" if done.audio else "")
        echo(f"wrote {done.clip} ({moment(done.start)}–{moment(done.end)} of {done.path}, {how})",
             err=err)
        if done.still:
            echo(f"wrote {done.still} (the frame at {moment(done.at)})", err=err)


def print_written(paths: list) -> None:
    for path in paths:
        echo(f"wrote {path}")


# -- organize -----------------------------------------------------------------------------------
def print_plan(plan) -> None:
    verb = VERBS[plan.mode][0]
    echo(
        f"Preview: {verb} {count(len(plan.moves), 'video')} into {plan.dest} "
        f"({plan.in_place} already there, {plan.left} left in place, {len(plan.skipped)} skipped)"
    )
    folders = plan.folders()
    if folders:
        width = max(len(f.folder) for f in folders)
        echo(f"{'cluster':>7}  {'folder':<{width}}  {'files':>5}  samples")
        for folder in folders:
            label = "noise" if folder.cluster < 0 else str(folder.cluster)
            echo(f"{label:>7}  {folder.folder:<{width}}  {folder.files:>5}  {', '.join(folder.samples)}")
    suffixed = [m for m in plan.moves if m.suffixed]
    if suffixed:
        echo(f"{len(suffixed)} will take a numbered name, theirs being taken:")
        for move in suffixed:
            echo(f"  {move.source} -> {move.target}")
    for skipped in plan.skipped:
        echo(f"skip {skipped.path}: {skipped.reason}")
    echo("Nothing was changed: add --apply to do it." if plan.moves else "Nothing to do.")


def print_organized(result) -> None:
    for skipped in result.skipped:
        warn(f"skipped {skipped.path}: {skipped.reason}")
    for failed in result.failed:
        warn(f"failed {failed.path}: {failed.reason}")
    finished = "finished the interrupted organize: " if result.resumed else ""
    echo(
        f"{finished}{VERBS[result.mode][1]} {count(result.moved, 'video')} into {result.dest} "
        f"({result.in_place} already there, {result.left} left in place, {len(result.skipped)} skipped, "
        f"{len(result.failed)} failed) in {result.seconds:.1f} s"
    )
    print_renamed("took a numbered name, theirs being taken", [(i["source"], i["target"]) for i in result.suffixed])
    if result.folders_removed:
        echo(f"{count(result.folders_removed, 'emptied source folder')} removed (undo makes them again)")
    if result.journal:
        echo(f"journal: {result.journal} (undo with `vindex organize --undo`)")


def print_undo(result) -> None:
    for failed in result.failed:
        warn(f"not restored {failed.path}: {failed.reason}")
    what = "removed" if result.mode != "move" else "restored"
    echo(
        f"{what} {count(result.restored, 'video')} of the organize into {result.dest}, "
        f"{count(result.folders_removed, 'empty folder')} removed, "
        f"{count(result.folders_created, 'source folder')} recreated, {len(result.failed)} failed, "
        f"in {result.seconds:.1f} s"
    )
    print_renamed("restored under a numbered name, the original being taken",
                  [(item["from"], item["to"]) for item in result.suffixed])


def print_renamed(why: str, pairs: list[tuple[str, str]]) -> None:
    """Files that did not get the name they were meant to, and the name they got."""
    if pairs:
        echo(f"{len(pairs)} {why}:")
        for before, after in pairs:
            echo(f"  {before} -> {after}")


def print_check(result) -> None:
    """`vindex check`: what a repair did, the problems or "index OK", then what to look at."""
    for line in result.repaired:
        echo(f"repaired: {line}")
    for line in result.not_repaired:
        echo(f"not repaired: {line}")
    if result.problems:
        echo(f"{count(len(result.problems), 'problem')} in the index at {result.db}:")
        for problem in result.problems:
            echo(f"  {problem}")
        if not result.repaired and not result.not_repaired:
            echo("run `vindex check --repair` to fix what can be fixed")
    else:
        echo(f"index OK: {count(result.videos, 'video')}, {count(result.frames, 'frame')}")
    for warning in result.warnings:
        echo(f"warning: {warning}")
    shown = result.missing_files[:MISSING_SHOWN]
    for path in shown:
        echo(f"  not on disk: {path}")
    if len(result.missing_files) > len(shown):
        echo(f"  ... and {len(result.missing_files) - len(shown)} more (--json lists them all)")
