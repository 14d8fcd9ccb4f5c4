"""Campaigns with a rules checklist and a draw anyone can verify (R-4.2.3, R-3.1).

``models`` (plan, state, requests), ``checklist`` (machine checks before review), ``entries``
(de-duplication and eligibility), ``verify_draw`` (the protocol, standard library only — the file
participants download), ``draw`` (building draw.json on top of it).
"""
