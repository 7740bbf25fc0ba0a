"""Drivers: how Bay makes sessions and cargos on one kind of infrastructure."""
