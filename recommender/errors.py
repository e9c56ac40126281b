"""Problems found in user input, reported all at once as `file:line: column: message`."""

from __future__ import annotations

from dataclasses import dataclass

# Enough to fix a broken file in one pass; a 50 MB file of garbage must not print 50 MB of errors.
MAX_REPORTED_ISSUES = 200


@dataclass(frozen=True)
class InputIssue:
    """One problem in one place of one input file."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column:
            return f"{where}: {self.column}: {self.message}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Raised when input files are not usable; carries every issue found, not just the first."""

    def __init__(self, issues: list[InputIssue]) -> None:
        if not issues:
            raise ValueError("InputError needs at least one issue")
        self.issues = issues
        super().__init__(self.report())

    @classmethod
    def single(
        cls, file: str, message: str, line: int | None = None, column: str | None = None
    ) -> InputError:
        """One issue: for readers that cannot go on after a structural problem (wrong file)."""
        return cls([InputIssue(file, line, column, message)])

    def report(self, limit: int = MAX_REPORTED_ISSUES) -> str:
        lines = [str(issue) for issue in self.issues[:limit]]
        if len(self.issues) > limit:
            lines.append(f"... and {len(self.issues) - limit} more problems")
        return "\n".join(lines)
