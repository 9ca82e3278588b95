"""Django integration for the edge chat rooms.

- ``edge_chat.layers.EdgeChannelLayer``: a Channels layer whose
  ``group_send`` publishes into an edge room through the inject API.
- ``edge_chat.tokens.mint_join_token``: join tokens for ``request.user``.
- ``edge_chat.webhooks``: verify and parse the rooms' signed webhooks.
"""

__version__ = "0.1.0"
