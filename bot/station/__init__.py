"""Repair stations get their work: the station console (`console`), the dispatch rules (late
acceptance, the on-site response promise by city tier, `dispatch`) and the supervisors' view
of every station's load (`oversight`)."""
