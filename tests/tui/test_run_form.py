"""One form widget made from a field table: a field added to the table is in the form, read
back, and marked when wrong, with nothing else to write."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, Select, SelectionList, Static, Switch

from naptha_tui.backends.runs.fields import Field, Fields, Problem, Reader
from naptha_tui.tui.widgets.run_form import RunForm

TABLE = Fields(
    Field("model", flag="--model", missing="choose one"),
    Field("mode", "choice", "fast", "", "--mode", choices=("fast", "slow")),
    Field("top_p", "fraction", 0.9, "nucleus ({default})", "--top-p", placeholder="0 to 1"),
    Field("strict", "switch", False, "", "--strict", hint="strict tools"),
    Field("cats", "names", ("a",), "", "--cats", choices=("a", "b", "c")),
    Field("hidden", "whole", 3, "", "--hidden", form=False),
)


class TopPForm(RunForm):
    TABLE = TABLE


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield TopPForm(id="form")


async def test_the_table_is_the_form() -> None:
    app = Host()
    async with app.run_test(size=(80, 40)) as pilot:
        form = app.query_one(TopPForm)
        form.set_served(["m1", "m2"])
        await pilot.pause()
        ids = [w.id for w in form.query(".field")]
        assert ids == ["model-field", "mode-field", "top-p-field", "cats-field", "strict-field"]
        assert form.query_one("#top-p", Input).value == "0.9"
        assert form.query_one("#top-p", Input).placeholder == "0 to 1"
        assert str(form.query_one("#strict-hint", Static).content) == "strict tools"
        assert form.values() == {
            "model": "m1", "mode": "fast", "top_p": "0.9", "strict": False, "cats": ["a"],
        }  # fmt: skip
        form.set_value("top_p", "most")
        form.query_one("#strict", Switch).value = True
        form.choose(["c", "b"])
        form.query_one("#mode", Select).value = "slow"
        await pilot.pause()
        r = Reader(TABLE, form.values())
        values = {f.key: r.get(f.key) for f in TABLE}
        assert values == {"model": "m1", "mode": "slow", "top_p": 0.9, "strict": True,
                          "cats": ("b", "c"), "hidden": 3}  # fmt: skip
        assert [str(p) for p in r.problems] == ["top p: 'most' is not a number (inf is one)"]
        form.show_problems([*r.problems, Problem("", "the proxy does not answer")])
        await pilot.pause()
        assert form.query_one("#top-p-field").has_class("-invalid")
        assert "'most' is not a number" in str(form.query_one("#top-p-error", Static).content)
        assert str(form.query_one("#form-error", Static).content) == "the proxy does not answer"
        form.set_values({"model": "gone", "top_p": 0.5, "cats": ("a",), "strict": False})
        await pilot.pause()
        assert form.model.value == "gone" and form.query_one("#top-p", Input).value == "0.5"
        assert list(form.query_one("#cats", SelectionList).selected) == ["a"]
        assert form.served == ["m1", "m2"]
