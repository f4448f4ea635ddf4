"""Is there a font that can draw Chinese? Checked before a PDF is laid out.

Without a CJK font WeasyPrint still writes a PDF, with every Chinese character drawn as an empty box,
and nothing says so. The report commands therefore ask fontconfig first (the library WeasyPrint lays
text out with) and refuse with a one-line install hint.
"""

from __future__ import annotations

import re
import shutil
import subprocess

# Debian/Ubuntu package with the fonts the report stylesheet asks for (Noto Sans/Serif CJK SC).
INSTALL_HINT = "apt-get install fonts-noto-cjk"
# Family names of common fonts that cover Chinese, for when fontconfig cannot be asked by language.
_CJK_NAMES = re.compile(
    r"CJK|Source Han|WenQuanYi|文泉驿|Droid Sans Fallback|AR PL|Sarasa|SimSun|SimHei|Microsoft YaHei|"
    r"PingFang|Hiragino Sans GB|Heiti|Songti|Noto Sans SC|Noto Serif SC",
    re.IGNORECASE,
)


def cjk_font_families() -> list[str]:
    """Families of the installed fonts that cover Simplified Chinese (empty when there is none)."""
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        try:
            done = subprocess.run(
                [fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            return sorted(
                {
                    name.strip()
                    for line in done.stdout.splitlines()
                    for name in line.split(",")
                    if name.strip()
                }
            )
    return [name for name in _fontconfig_families() if _CJK_NAMES.search(name)]


def _fontconfig_families() -> list[str]:
    """Every font family fontconfig knows, through WeasyPrint's own binding (no fc-list needed)."""
    try:
        from weasyprint.text.ffi import ffi, fontconfig
    except (ImportError, OSError):
        return []
    config = fontconfig.FcInitLoadConfigAndFonts()
    families: set[str] = set()
    try:
        fonts = fontconfig.FcConfigGetFonts(config, fontconfig.FcSetSystem)
        if fonts == ffi.NULL:
            return []
        value = ffi.new("FcChar8 **")
        for index in range(fonts.nfont):
            if fontconfig.FcPatternGetString(fonts.fonts[index], b"family", 0, value) == 0:
                families.add(ffi.string(value[0]).decode("utf-8", "replace"))
    finally:
        fontconfig.FcConfigDestroy(config)
    return sorted(families)


def missing_cjk_font() -> str | None:
    """None when a CJK font is installed; else the one-line message that says what to install."""
    if cjk_font_families():
        return None
    return f"no Chinese (CJK) font is installed, so a PDF would show boxes instead of Chinese: {INSTALL_HINT}"
