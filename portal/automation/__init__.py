"""The rules of workflows (issue 14), without Flask, RQ or HTTP: which events a workflow takes
(matching, the loop guard), when a Wait ends, and what a step's settings may be."""
