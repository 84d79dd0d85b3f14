"""Work orders: one module per form, and the repair slots they share.

- `booking`: book a repair (`booking_form`) and its confirmation;
- `changes`: reschedule (`reschedule_form`) and cancel (`cancel_form`) a booking;
- `status`: look an order up (`status_form`) and rate the service (`rate_form`);
- `slots`: the free slots of a station, the `booking_slot` value, and the one ask action
  that offers slots in both `booking_form` and `reschedule_form`.

rasa_sdk's `--actions actions` imports sub-packages too, so every action here is registered.
"""
