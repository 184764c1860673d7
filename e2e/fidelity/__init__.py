"""The differential suite: the same requests to the mock IdP and to a real Keycloak, answers compared.

``cases`` builds the requests, ``observe`` turns each answer into a host-, id- and
time-free observation, ``compare`` diffs two observations minus the differences
``intended`` lists, and ``recorded/`` keeps Keycloak's observations so that the mock is
checked on every ``make test`` without a JVM.
"""
