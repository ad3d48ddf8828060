"""The test factory works both ways (REST and repository) and its tokens are accepted by
Admission.authorize — other areas' tests build on it."""

from pathlib import Path

from mirp.rooms.model import Role
from tests.support.factory import make_meeting, running_app


async def test_factory_http_and_db(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        for target in (client, app):
            fx = await make_meeting(target)
            assert fx.meeting["status"] == "open"
            assert set(fx.tokens) == {
                "chair", "delegate1", "delegate2", "delegate3", "interpreter_fr1",
                "interpreter_fr2", "interpreter_zh1", "interpreter_ar1", "observer"}
            grant = await app.state.admission.authorize(fx.tokens["interpreter_fr2"],
                                                        fx.meeting_id)
            assert grant.role is Role.INTERPRETER and grant.booth == "fr"
            assert grant.participant_id == fx.people["interpreter_fr2"].participant_id
            grant = await app.state.admission.authorize(fx.tokens["delegate2"], None)
            assert grant.delegation == "Delegation B" and grant.role is Role.DELEGATE
            spec = await app.state.admission.load_spec(fx.meeting_id)
            assert spec.languages == ("en", "fr", "zh", "ar")
            assert spec.booth("ar") is not None and spec.booth("ar").retour == "en"
            assert spec.booth("zh").understands == frozenset({"fr"})
