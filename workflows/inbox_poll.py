"""``inbox-poll-{platform}-{account}`` — AccountPollWorkflow (R-4.2.1).

Pulls an account's new comments, DMs and mentions on an interval. The poll activity stores each new item
together with its process start (db/outbox.py); this workflow then starts the items' InteractionWorkflows
as children that outlive it (``ABANDON``), so a start is part of this workflow's durable history rather
than a side effect an activity might lose. A child the reconciler started first is simply there already.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.common import RETRY

with workflow.unsafe.imports_passed_through():
    from activities.inbox import InboxActivities
    from core.temporal import SA_PROCESS
    from domain import ids
    from domain.inbox_io import PollInput, PollWindow
    from workflows.interaction import InteractionWorkflow

ROUNDS_BEFORE_CONTINUE = 200


@workflow.defn
class AccountPollWorkflow:
    @workflow.run
    async def run(self, inp: PollInput) -> None:
        workflow.upsert_search_attributes([SA_PROCESS.value_set("inbox_poll")])
        last = inp.since or workflow.now() - inp.every
        for _ in range(ROUNDS_BEFORE_CONTINUE):
            now = workflow.now()
            fresh = await workflow.execute_activity_method(
                InboxActivities.poll_account,
                PollWindow(platform=inp.platform, account=inp.account, since=last, until=now),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRY,
            )
            started: list[str] = []
            for item in fresh:
                wid = ids.interaction(item.platform, item.external_id)
                try:
                    await workflow.start_child_workflow(
                        InteractionWorkflow.run,
                        item,
                        id=wid,
                        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    )
                except WorkflowAlreadyStartedError:
                    pass  # the reconciler (or an earlier run of this loop) started it
                started.append(wid)
            if started:
                await workflow.execute_activity_method(
                    InboxActivities.mark_started,
                    started,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
            last = now
            await workflow.sleep(inp.every, summary="next-poll")
        workflow.continue_as_new(inp.model_copy(update={"since": last}))
