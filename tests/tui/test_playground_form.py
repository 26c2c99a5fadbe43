"""The playground's form follows the ``try`` field table (``backends/playground/fields.TRY``)."""

from __future__ import annotations

from textual.widgets import Label

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.fields import COMMAND_ONLY, TRY
from naptha_tui.backends.playground.spec import Spec
from tests.tui.playground_common import SIZE, Engines, app_with, open_playground


async def test_the_form_is_made_from_the_try_table(paths: Paths) -> None:
    """Every field of ``try``'s table has its field in the form, with its label, in the table's
    order (model, system and prompt first, switches last); a flag that is the command's alone
    has none. A field added to the table shows in the form without a line here."""
    app = app_with(paths, Engines())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        form = screen.form
        shown = [f.key for f in TRY.form]
        for key in shown:
            field = form.query_one(f"#{TRY[key].dom_id}-field")
            labels = [str(label.render()) for label in field.query(Label)]
            assert any(text.startswith(TRY[key].label) for text in labels), (key, labels)
        for key in COMMAND_ONLY:
            assert not form.query(f"#{TRY[key].dom_id}-field"), key
        fields = [w.id.removesuffix("-field") for w in form.query(".field") if w.id]
        order = [f.dom_id for f in form.ordered()]
        assert fields == order and order[:3] == ["model", "system", "prompt"], fields
        assert {f.kind for f in form.ordered()[-3:]} == {"switch"}
        # the first values are Spec's defaults
        assert form.values()["samples"] == str(Spec().samples)
        assert form.values()["max_tokens"] == str(Spec().max_tokens)
