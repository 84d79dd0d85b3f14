"""The support desk: staff take over conversations the bot hands off, and hand them back.

Parts, one job each:
- `accounts`: staff accounts, login sessions, CSRF, roles, the audit writer;
- `queue`: what staff see (the lists, one conversation, the audit log) and the one rule of
  who may see what, shared with the live push;
- `holding`: what the holder of a conversation does (claim, reply, note, transfer, close,
  hand back, book and move a repair); the state changes themselves are `bot.handoffs`';
- `canned`: canned replies with the conversation's values filled in;
- `rasa`: the desk's client of Rasa's HTTP API (pause, agent messages, resume);
- `broker`: customer messages in from Rasa's event broker (SQL table or RabbitMQ);
- `recovery`: the messages the broker never delivered, taken from Rasa's tracker store;
- `feed`: new activity out to the staff's websockets;
- `page`: the desk page and its websocket;
- `waiting`: nobody waits forever (no agent in time, or the desk is closed);
- `teams`, `duty`, `assign`: teams and who is on duty, automatic assignment, transfer with a
  note; `sla`: the first- and next-response timers; `orders`: the booking form filled in,
  stations and free slots, the customer's orders with their next steps;
- `loops`: starting and stopping the background loops;
- `routes`: how all this plugs into the backend app (`ROUTES`, `setup(app)`).

This file imports nothing, so `bot.handoffs` can use `accounts` and `rasa` without pulling
in the desk's routes, which import `bot.handoffs`.
"""
