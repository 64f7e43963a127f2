from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0007_smart')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='SmartChargingPlan',
            options={'table': 'smart_charging_plan', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': 'The current smart charging plan of a vehicle (one row per vehicle, rewritten on re-plan).'},
        ),
        ops.AlterModelOptions(
            name='SmartChargingPolicy',
            options={'table': 'smart_charging_policy', 'app': 'models', 'pk_attr': 'vehicle_id', 'table_description': "A vehicle's smart charging wishes: when it leaves and how full it must be."},
        ),
        ops.AlterModelOptions(
            name='Tariff',
            options={'table': 'tariff', 'app': 'models', 'pk_attr': 'location_id', 'table_description': 'Energy prices at a location, as the client gives them: a day-ahead series of rates, or a'},
        ),
    ]
