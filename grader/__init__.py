"""grader: the course's nbgrader configuration, hidden-test helpers and batch grading.

It imports jazz_utils and nbgrader; jazz_utils never imports it.
"""
