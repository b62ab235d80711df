# Copyright (c) 2026, linuxns.net contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A plan: the changes a run would make, computed before any change, so check mode predicts exactly what apply does."""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

from ansible_collections.linuxns.net.plugins.module_utils._errors import kernel_error


class Action(NamedTuple):
    description: str  # names the object and its namespace: it is also the error message's subject
    do: Callable
    undo: Optional[Callable] = None  # removes what do created, should a later change fail


class Plan:
    def __init__(self):
        self.actions = []
        self.before = {}
        self.after = {}
        self.warnings = []

    def add(self, description, do, undo=None):
        """Queue a change; undo (if given) removes what do created, should a later change fail."""
        self.actions.append(Action(description, do, undo))

    def record(self, key, before, after, since):
        """Diff-mode view of one object (None means absent), kept only if changes were queued for it after mark since.

        The before view is cut to the fields the after view shows, so that fields the request does not manage
        do not show up as differences.
        """
        if len(self.actions) > since:
            self.before[key] = _like(before, after)
            self.after[key] = after

    @property
    def mark(self):
        return len(self.actions)

    @property
    def changed(self):
        return bool(self.actions)

    def apply(self):
        """Run every change in order; on a failure, undo the objects this run created, then re-raise (a kernel
        error that nothing named yet is named after the change that met it). The error's changed tells whether
        anything done stays done (a change without an undo, or one whose undo failed)."""
        undo_stack = []
        kept = False
        try:
            for action in self.actions:
                try:
                    action.do()
                except OSError as exc:
                    raise kernel_error(action.description, exc) from None
                if action.undo is not None:
                    undo_stack.append(action.undo)
                else:
                    kept = True
        except Exception as exc:
            for undo in reversed(undo_stack):
                try:
                    undo()
                except Exception:  # best effort: the original error is the one to report
                    kept = True
            exc.changed = getattr(exc, "changed", False) or kept
            raise

    def execute(self, check_mode):
        """Apply the plan (unless check_mode) and return the module's result: changed, the changes, the diff."""
        if self.actions and not check_mode:
            self.apply()
        return {
            "changed": self.changed,
            "changes": [action.description for action in self.actions],
            "diff": {"before": self.before, "after": self.after},
            "warnings": self.warnings,
        }


def _like(before, after):
    if isinstance(before, dict) and isinstance(after, dict):
        return {k: _like(v, after[k]) for k, v in before.items() if k in after}
    return before
