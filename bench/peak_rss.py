"""Run a command and record its peak resident memory: the largest of the process and its descendants (ru_maxrss of
the waited-for children), in MiB, appended as one line to the file named by $PEAK_RSS_FILE.

    PEAK_RSS_FILE=/tmp/rss python bench/peak_rss.py ansible-playbook ...   # the controller
    (as ansible_python_interpreter, through a wrapper script: a module on a host)
"""

import os
import resource
import subprocess
import sys

proc = subprocess.run(sys.argv[1:], check=False)  # stdin, stdout and stderr pass through (a pipelined module)
with open(os.environ["PEAK_RSS_FILE"], "a") as out:
    out.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}\n")
sys.exit(proc.returncode)
