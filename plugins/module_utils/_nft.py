# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nft commands run in this process through libnftables (the library the nft program is built on), falling back to
the program where the library cannot be loaded. A command costs under 1 ms instead of about 4 ms of process start,
which counts where one is run per container (network policy). Each call has a context of its own, made in the
calling thread's namespace; calls are serialized, because the library keeps state of its own across contexts
(seen: a read that ran beside others came back wrong). Changes that wait on the kernel's commit are better run as
programs side by side."""

from __future__ import annotations

import ctypes
import threading
from typing import NamedTuple

from ansible_collections.linuxns.net.plugins.module_utils._errors import KernelError
from ansible_collections.linuxns.net.plugins.module_utils._programs import run_program

OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON
_LIBRARY = []  # [the loaded library, or None]: loaded on first use
_LOCK = threading.Lock()  # one library call at a time


class NftResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _library():
    if not _LIBRARY:
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError:
            lib = None
        if lib is not None:
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
                getattr(lib, name).restype = ctypes.c_char_p
        _LIBRARY.append(lib)
    return _LIBRARY[0]


def run_nft(commands, place, json_output=False, ok_codes=(0,)):
    """commands (nft's syntax, one per line, as nft -f takes them; one listing command with json_output) in this
    thread's namespace; place says where, for messages. Returns an NftResult; a return code outside ok_codes raises
    KernelError."""
    with _LOCK:
        lib = _library()
        if lib is not None:
            result = _run_in_library(lib, commands, place, json_output)
    if lib is None:
        # the program reads a file given with -j as JSON: a command whose output is wanted as JSON goes as words
        if json_output:
            proc = run_program(["nft", "-j"] + commands.split(), place, ok_codes=None)
        else:
            proc = run_program(["nft", "-f", "-"], place, stdin=commands if commands.endswith("\n") else commands + "\n",
                               ok_codes=None)
        result = NftResult(0 if proc.returncode == 0 else 1, proc.stdout, proc.stderr)
    if result.returncode not in ok_codes:
        lines = commands.strip().splitlines() or [""]
        more = " ..." if len(lines) > 1 else ""
        raise KernelError(f"nft ({lines[0]}{more}) in {place} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _run_in_library(lib, commands, place, json_output):
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise KernelError(f"libnftables could not make a context in {place}")
    try:
        if json_output:
            lib.nft_ctx_output_set_flags(ctx, OUTPUT_JSON)
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        code = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
        out, err = lib.nft_ctx_get_output_buffer(ctx), lib.nft_ctx_get_error_buffer(ctx)
        return NftResult(0 if code == 0 else 1, (out or b"").decode(), (err or b"").decode())
    finally:
        lib.nft_ctx_free(ctx)
