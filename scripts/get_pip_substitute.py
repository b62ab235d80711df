"""Stand-in for the get-pip.py that ansible-test downloads from a host this workplace cannot reach.

ansible-test runs it inside each empty sanity virtualenv with pip's own arguments (pip==X, --no-setuptools, ...).
It bootstraps the pip that ships with Python (ensurepip), then installs the requested packages from the package
index that pip is configured for.
"""

import subprocess
import sys

# In a child process: ensurepip.bootstrap() sets PIP_CONFIG_FILE=/dev/null in its caller's environment, which would
# hide the machine's pip configuration (index, certificates) from the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + args)
