"""What the sandbox environment holds, the same on every driver: Python and its data stack for
the kernel and the shell alike, tools, Node with npm and pnpm, fonts, and the distribution."""

import base64
import json
import re
import struct

import pytest

from bay.drivers.base import Instance
from tests.bay_process import REPO
from tests.engines import py, sh

# Distribution names whose module is called otherwise.
MODULES = {
    "pillow": "PIL",
    "scikit-learn": "sklearn",
    "beautifulsoup4": "bs4",
    "pyyaml": "yaml",
    "ipython": "IPython",
}
TOOLS = ("git", "curl", "wget", "jq", "unzip", "zip", "sqlite3", "rg", "gcc", "make", "node")

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]


def listed_modules() -> list[str]:
    """Every package images/sandbox/requirements.txt lists, as the module it imports."""
    names = []
    for line in (REPO / "images" / "sandbox" / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>\[; ]", line.partition("#")[0].strip())[0]
        if name:
            names.append(MODULES.get(name.lower(), name.replace("-", "_")))
    return names


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_every_listed_package_imports_in_the_kernel(sandbox: Instance) -> None:
    modules = listed_modules()
    assert len(modules) >= 18
    code = f"import importlib\nfor m in {modules!r}: importlib.import_module(m)\nprint('all')"
    result = await py(sandbox, code, timeout=300)
    assert result["success"], result
    assert result["text"].strip() == "all"


async def test_every_listed_package_imports_in_the_shells_python(sandbox: Instance) -> None:
    imports = "; ".join(f"import {m}" for m in listed_modules())
    result = await sh(sandbox, f'python3 -c "{imports}; print(123)"', timeout=300)
    assert (result["exit_code"], result["stdout"]) == (0, "123\n"), result


async def test_the_kernel_and_the_shell_run_one_python(sandbox: Instance) -> None:
    kernel = await py(sandbox, "import sys; print(sys.executable, sys.version)")
    shell = await sh(sandbox, "python3 -c 'import sys; print(sys.executable, sys.version)'")
    assert kernel["text"].strip() == shell["stdout"].strip()
    assert kernel["text"].startswith("/usr/bin/python3 3.1")


async def test_ship_stays_out_of_the_users_python(sandbox: Instance) -> None:
    probe = "import importlib.util as u; print([u.find_spec(m) is None for m in MODULES])"
    probe = probe.replace("MODULES", "('fastapi', 'uvicorn', 'ship')")
    shell = await sh(sandbox, f'python3 -c "{probe}"')
    assert shell["stdout"].strip() == "[True, True, True]", shell
    kernel = await py(sandbox, probe.replace("'ship'", "'shipyard_protocol'"))
    assert kernel["text"].strip() == "[True, True, True]", kernel
    writable = await sh(sandbox, "touch /opt/ship/x /usr/local/lib/x 2>&1; echo $?")
    assert writable["stdout"].strip().endswith("1"), writable


async def test_tools_agents_use_are_there(sandbox: Instance) -> None:
    result = await sh(sandbox, " && ".join(f"command -v {tool}" for tool in TOOLS))
    assert result["exit_code"] == 0, result
    assert len(result["stdout"].split()) == len(TOOLS)


async def test_node_npm_and_pnpm_run(sandbox: Instance) -> None:
    result = await sh(sandbox, "node -e 'console.log(6*7)' && npm --version && pnpm --version")
    assert result["exit_code"] == 0, result
    answer, npm, pnpm = result["stdout"].split()
    assert answer == "42"
    assert re.fullmatch(r"\d+\.\d+\.\d+", npm)
    assert re.fullmatch(r"\d+\.\d+\.\d+", pnpm)


async def test_os_release_names_the_distribution(sandbox: Instance) -> None:
    result = await sh(sandbox, ". /etc/os-release && echo $ID $VERSION_ID")
    assert result["stdout"].strip() == "debian 12", result


async def test_plt_show_returns_a_png(sandbox: Instance) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    result = await py(sandbox, code, timeout=120)
    assert result["success"], result
    pngs = [o["image/png"] for o in result["outputs"] if "image/png" in o]
    assert len(pngs) == 1, result
    width, height = png_size(base64.b64decode(pngs[0]))
    assert 200 < width < 2000
    assert 150 < height < 2000
    assert "non-interactive" not in result["text"]
    assert "Warning" not in result["text"]


async def test_a_figure_as_the_last_value_returns_a_png(sandbox: Instance) -> None:
    code = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])\nfig"
    result = await py(sandbox, code, timeout=120)
    pngs = [o["image/png"] for o in result["outputs"] if "image/png" in o]
    assert len(pngs) >= 1, result
    assert png_size(base64.b64decode(pngs[0]))[0] > 200


async def test_chinese_labels_render_with_a_cjk_font(sandbox: Instance) -> None:
    code = """
import io, json, warnings
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties, findfont
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.set_title("每月销售额")
    ax.set_xlabel("月份")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
font = findfont(FontProperties(family="Noto Sans CJK SC"), fallback_to_default=False)
print(json.dumps({"warnings": [str(w.message) for w in caught], "font": font}))
"""
    result = await py(sandbox, code, timeout=120)
    assert result["success"], result
    found = json.loads(result["text"])
    assert found["warnings"] == []
    assert "NotoSansCJK" in found["font"]


async def test_display_of_a_dataframe_returns_html(sandbox: Instance) -> None:
    code = "import pandas as pd\nfrom IPython.display import display\n"
    code += "display(pd.DataFrame({'a': [1, 2]}))"
    result = await py(sandbox, code, timeout=120)
    html = [o["text/html"] for o in result["outputs"] if "text/html" in o]
    assert len(html) == 1, result
    assert "<table" in html[0]
