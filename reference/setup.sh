#!/usr/bin/env bash
# reference/setup.sh: installs what the reference scripts need, from Debian's packages (not pip),
# then the scripts run with /usr/bin/python3 (the default python3 may not see these packages).
#   bash reference/setup.sh && /usr/bin/python3 reference/safetensors_fixture.py
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  python3-torch python3-numpy python3-pil python3-scipy python3-sklearn python3-regex python3-opencv libopenblas0-pthread
/usr/bin/python3 -c "import torch, numpy, PIL, scipy, sklearn; print('torch', torch.__version__, 'numpy', numpy.__version__, 'PIL', PIL.__version__, 'scipy', scipy.__version__, 'sklearn', sklearn.__version__)"
