import subprocess
import sys


def test_output_into_a_closed_pipe_ends_quietly(indexed_copy):
    """`vindex info | head -0`: the reader has gone; no 'Error: Broken pipe', no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "vindex", "info"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    code = process.wait(timeout=120)
    assert stderr == ""
    assert code != 0
