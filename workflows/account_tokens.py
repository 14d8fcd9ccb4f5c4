"""``account-{platform}-{id}`` — AccountTokenWorkflow: keeps a connected account's tokens valid.

One long-lived workflow per account with credentials. Each round asks the check activity what to do
(refresh before expiry where the connector can; otherwise warn platform_admin ahead of expiry and mark
the account ``reauthorize_needed`` once it has expired), sends what it must notify, and sleeps until the
next moment that matters — or until woken (new credentials, a grant the platform refused), through one
resettable wait (STYLE 13).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.common import RETRY

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from activities.notify import NotificationActivities
    from core.temporal import SA_PROCESS
    from domain.account_io import TokenCheckInput, TokenKeeperInput, WakeSignal

ROUNDS_BEFORE_CONTINUE = 100
MIN_SLEEP = timedelta(minutes=1)


@workflow.defn
class AccountTokenWorkflow:
    def __init__(self) -> None:
        self.woken = False

    @workflow.signal
    def wake(self, _: WakeSignal) -> None:
        self.woken = True

    @workflow.run
    async def run(self, inp: TokenKeeperInput) -> str:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("account_tokens")])
        for _ in range(ROUNDS_BEFORE_CONTINUE):
            self.woken = False
            check = await workflow.execute_activity_method(
                AccountActivities.check_tokens,
                TokenCheckInput(keeper=inp, at=workflow.now()),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RETRY,
            )
            for notice in check.notices:
                await workflow.execute_activity_method(
                    NotificationActivities.notify,
                    notice,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
            if check.next_check_at is None:
                return check.state
            wait = max(check.next_check_at - workflow.now(), MIN_SLEEP)
            try:
                await workflow.wait_condition(lambda: self.woken, timeout=wait, timeout_summary="next-token-check")
            except TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(inp.model_copy(update={"rounds": inp.rounds + ROUNDS_BEFORE_CONTINUE}))
